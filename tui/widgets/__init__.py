"""Reusable dashboard widgets: each module holds one widget, its messages and its default CSS."""
