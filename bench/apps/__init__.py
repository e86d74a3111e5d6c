"""The bench's function apps, one folder each (`bench/apps/<name>/function_app.py`).

The host's language workers import an app's script as the top-level module `function_app`,
with its folder first on sys.path, so each app has a folder of its own: nothing of the bench
sits beside it to be imported under a top-level name. The apps read nothing from the bench
process: what they need comes from the settings set before the host starts.
"""
