"""engine/faithfulness"""
