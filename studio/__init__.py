"""The studio: a Gradio app with an embedded Viser viewport. Uses ``geometry`` and ``engine``'s public API."""
