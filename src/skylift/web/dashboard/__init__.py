"""``skylift web``: the dashboard over a state store (app.py), its buttons (control.py)."""
