import requests.adapters


