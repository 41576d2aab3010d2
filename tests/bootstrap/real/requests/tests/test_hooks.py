import pytest

from requests import hooks


def hook(value):
