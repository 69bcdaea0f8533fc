"""rxlab: services/ocr."""
