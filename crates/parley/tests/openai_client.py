"""The official `openai` Python client against Parley's /v1/chat/completions front door.

Run by the `the_official_openai_python_client_works` integration test with PARLEY_BASE_URL,
PARLEY_KEY and PARLEY_BOT set (a bot answering with the fake provider's `echo` model).
"""

import os
import sys

from openai import OpenAI

client = OpenAI(base_url=os.environ["PARLEY_BASE_URL"], api_key=os.environ["PARLEY_KEY"])
bot = os.environ["PARLEY_BOT"]

reply = client.chat.completions.create(
    model=bot,
    user="python-client",
    messages=[{"role": "user", "content": "hello from python"}],
)
text = reply.choices[0].message.content
assert "hello from python" in text, text
assert reply.usage.completion_tokens > 0, reply.usage
print("OK non-streaming:", repr(text))

stream = client.chat.completions.create(
    model=bot,
    user="python-client",
    stream=True,
    messages=[{"role": "user", "content": "now stream it"}],
)
pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
streamed = "".join(pieces)
assert "now stream it" in streamed, pieces
assert len(pieces) > 2, pieces
print("OK streaming:", len(pieces), "chunks:", repr(streamed))

try:
    client.chat.completions.create(model="no-such-bot", messages=[{"role": "user", "content": "x"}])
    sys.exit("expected a NotFoundError")
except Exception as e:  # openai.NotFoundError
    assert type(e).__name__ == "NotFoundError", repr(e)
    print("OK errors:", type(e).__name__)
