"""The columns scoring adds to a frame, named once: payload log, feedback, monitors and the scorer read them."""

from __future__ import annotations

PREDICTION = "prediction"  # the predicted label
PROBABILITY = "probability"  # the probability of the spec's positive (risk) label
SCORING_ID = "scoring_id"  # "<request id>-<record index>", the key feedback joins on
UNSEEN = "unseen"  # the categories the model never saw in training, per record

SCORED_COLUMNS: tuple[str, ...] = (PREDICTION, PROBABILITY)
