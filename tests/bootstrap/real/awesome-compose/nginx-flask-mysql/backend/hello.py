import os
from flask import Flask
import mysql.connector


class DBManager:
