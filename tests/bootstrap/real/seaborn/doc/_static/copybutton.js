// originally taken from scikit-learn's Sphinx theme
