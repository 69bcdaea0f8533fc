"""The seeded synthetic document corpus: printed prescriptions and lab reports with complete ground truth.

Entry points: ``python -m training.corpus.generate`` (the corpus), ``python -m training.corpus.samples`` (the four
bundled samples), ``python -m training.corpus.export_lines`` (text lines with token labels, for the tagger; the
detector's YOLO dataset is :mod:`training.detector.dataset`). Module map:

* ``drugs``, ``labtests``, ``sigtable`` — what may be printed, read from the vocabulary files (RxNorm, LOINC, SIG);
* ``medlines``, ``labrows``, ``content``, ``people`` — what a document says, with the expected value of every piece;
* ``kit``, ``canvas``, ``rx_layouts``, ``lab_layouts``, ``fonts`` — where and how it is printed (regions, lines, boxes);
* ``degrade`` — scans and phone photos, with the boxes moved by the same geometry;
* ``document``, ``truth`` — plan → build → write, and ``truth.json``;
* ``holdout`` — the one table of templates, fonts and phrasings held out for the test split;
* ``schema`` — region classes, token labels and line kinds (the contract with the models).
"""
