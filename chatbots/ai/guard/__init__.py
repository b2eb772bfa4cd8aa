"""Prompt-injection guard, in layers, in front of the model and behind it.

1. One message (`screen_input`): the customer's text is cleaned (control and invisible
   characters stripped, a length limit) and every rule (`rules.py`) is tried on each of its
   readings (`text.py`: folded, leetspeak, letters spaced or dotted apart, homoglyphs,
   reversed, ROT13, base64/hex/percent segments decoded): instruction override, role
   change, system-prompt extraction, exfiltration of other customers' data, fake
   system/role messages and encodings.
2. The conversation (`screen_conversation`, `attack_turns`): the customer's last
   TURN_WINDOW messages read together, so that an attack split over turns is caught on the
   turn that completes it and its pieces never reach the model as history.
3. With Gemini on, a cheap classification call (chatbots.ai.classifier) for what the rules
   let through; it fails open to this verdict.
4. Behind the model (`check_output`, `output.py`): no system-instruction text, secrets,
   other customers' data, links outside the allowlist, and no price, discount or rule that
   the tenant's data does not hold.

A blocked message never reaches the model: the customer gets a neutral answer and a metric
is counted. The customer's text only ever goes to the model as user content (never into
the system instruction), and the instruction tells the model to treat it as a customer's
question. tests/ai_corpus/ (tuning) and tests/ai_heldout/ (never tuned on) measure the local
layers (chatbots/tests/test_ai_guard.py).
"""

from chatbots.ai.guard.output import (
    MAX_ANSWER_CHARS,
    OutputPolicy,
    OutputVerdict,
    check_output,
    promise_problem,
)
from chatbots.ai.guard.rules import PATTERNS, SQUASHED, attack_reason
from chatbots.ai.guard.screen import (
    BLOCKED,
    MAX_INPUT_CHARS,
    TURN_WINDOW,
    GuardStats,
    InputVerdict,
    attack_turns,
    blocked,
    conversation_blocked,
    measure,
    screen_conversation,
    screen_input,
)
from chatbots.ai.guard.text import clean, fold, views

__all__ = [
    "BLOCKED",
    "MAX_ANSWER_CHARS",
    "MAX_INPUT_CHARS",
    "PATTERNS",
    "SQUASHED",
    "TURN_WINDOW",
    "GuardStats",
    "InputVerdict",
    "OutputPolicy",
    "OutputVerdict",
    "attack_reason",
    "attack_turns",
    "blocked",
    "check_output",
    "clean",
    "conversation_blocked",
    "fold",
    "measure",
    "promise_problem",
    "screen_conversation",
    "screen_input",
    "views",
]
