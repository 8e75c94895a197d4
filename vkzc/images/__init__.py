"""The images a cell runs in: base (Debian, bootstrapped), Mesa (packages or a source build), suite.

Tags derive from content, so an unchanged image is found and never rebuilt.
"""
