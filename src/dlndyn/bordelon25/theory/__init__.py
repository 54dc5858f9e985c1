"""The infinite-width DMFT of Bordelon & Pehlevan 2025 in numpy (never imports JAX)."""
