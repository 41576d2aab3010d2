"""example URL Configuration

