"""engine/series"""
