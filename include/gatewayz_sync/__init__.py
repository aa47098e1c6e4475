"""Keeps an AI gateway's provider and model catalog current: registry, fetch, normalize, load, report."""
