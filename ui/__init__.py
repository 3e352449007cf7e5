"""Shared Streamlit UI code for Deconv Lab's pages: state, URL mirroring, caps, formatting.

Nothing here computes geometry; pages read widgets, call `core`, and draw.
"""
