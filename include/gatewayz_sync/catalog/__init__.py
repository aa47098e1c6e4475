"""What a model is: the normalized record, price units and the normalizer."""
