"""JupyterLab side: the Jupyter server extension (``_server``) and the notebook templates it
offers (``templates``). Imported by the Jupyter server at start-up, so it stays cheap."""
