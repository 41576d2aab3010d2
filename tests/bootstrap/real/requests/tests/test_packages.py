import requests


def test_can_access_urllib3_attribute():
