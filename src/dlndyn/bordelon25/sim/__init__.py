"""Finite networks of Bordelon & Pehlevan 2025 in JAX (never imports the theory)."""
