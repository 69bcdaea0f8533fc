"""Tests of training/ code that serving does not import."""
