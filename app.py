"""Start the 网店客服 AI 导师 web app: `python app.py [--host 127.0.0.1] [--port 7860]`."""

from kefu_mentor.app.shell import launch

if __name__ == "__main__":
    launch()
