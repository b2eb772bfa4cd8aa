"""The scenarios of `python -m benchmarks`: each returns plain figures (dicts) that
benchmarks/report/ turns into tables.

1. floor       a trivial Django view, same settings and gunicorn.conf.py: the ceiling.
2. ingest      signed single-message webhooks at full speed and at 80/s, workers stopped:
               the web path alone; the stored count is checked against the 200s.
3. e2e         webhook POST -> reply at the fake Graph server through the menu flow, at
               20, 80, 200 msg/s offered and at the maximum, workers as in the Procfile.
4. orders      many customers completing the order flow at once.
5. reminders   the reminder job over 100,000 and 1,000,000 appointments, few due.
6. peer        the same menu bot written with pywa, same gunicorn config, same loads.
   latency     ours and the peer while the Graph API takes as long to answer as Meta's.
   scaling     the end-to-end levels with 1, 2, 4 processors and senders.

Where each lives: floor and ingest in ingest.py; e2e, peer, latency, scaling and the
--profile run in e2e.py; orders.py; reminders.py; the CPU and memory accounting they share
in accounting.py. The harness they run on is benchmarks/harness.py, the menu flow's
messages benchmarks/menu.py.

Every figure of a scenario is the median of `runs` runs.
"""

from __future__ import annotations

from benchmarks.scenarios.e2e import scenario_e2e, scenario_latency, scenario_peer, scenario_scaling
from benchmarks.scenarios.ingest import scenario_floor, scenario_ingest
from benchmarks.scenarios.orders import scenario_orders
from benchmarks.scenarios.reminders import scenario_reminders

SCENARIOS = {
    "scaling": scenario_scaling,
    "floor": scenario_floor,
    "ingest": scenario_ingest,
    "e2e": scenario_e2e,
    "orders": scenario_orders,
    "reminders": scenario_reminders,
    "peer": scenario_peer,
    "latency": scenario_latency,
}
ORDER = ["floor", "ingest", "e2e", "peer", "scaling", "latency", "orders", "reminders"]
