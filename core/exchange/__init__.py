"""Exchanges and MRP: a sans-IO manager (manager.py) and its asyncio driver (driver.py)."""
