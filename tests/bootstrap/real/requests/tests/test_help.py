from unittest import mock

from requests.help import info


