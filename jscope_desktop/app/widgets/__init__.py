"""app/widgets"""
