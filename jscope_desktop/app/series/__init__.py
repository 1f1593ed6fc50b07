"""app/series"""
