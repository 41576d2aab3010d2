import warnings

try:
    import StringIO
except ImportError:
