"""The Gradio app: pure rendering, one shared context, one module per tab, and a shell."""
