import pytest

from requests.structures import CaseInsensitiveDict, LookupDict

