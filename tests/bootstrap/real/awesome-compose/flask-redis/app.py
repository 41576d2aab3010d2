from flask import Flask
from redis import Redis

app = Flask(__name__)
