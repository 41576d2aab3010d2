from app import app
import os

if __name__ == "__main__":
