"""Quatrain plans ranked by the model: N plans from the planner, the one the model finds likeliest."""

import asyncio
import os
import random
import sys
from pathlib import Path

import torch

from engine import prompts
from engine.poet import Poet

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

model_dir, out, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
FORMS = os.environ.get("FORMS", "wujue,qijue").split(",")
SEED = int(os.environ.get("SEED", "1000"))
original = Poet._plan


@torch.inference_mode()
def plan_log_likelihood(self, model, request, form, plan):
    ids = self._encode(model, prompts.poem_prompt(form.name, request.words, request.heads, plan.keywords))
    at = ids.index(model.tokenizer.convert_tokens_to_ids(prompts.PLAN))
    logits = model.backend.all_logits(torch.tensor([ids]))[0, at:-1].float()  # (plan tokens + <sep>, vocab)
    return float(torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[at + 1 :])[:, None]).sum())


def ranked(self, model, request, form, rng):
    plan = original(self, model, request, form, rng)
    if N <= 1 or plan is None or not plan.keywords:
        return plan
    plans = [plan] + [original(self, model, request, form, random.Random(rng.random())) for _ in range(N - 1)]
    scores = [plan_log_likelihood(self, model, request, form, p) for p in plans]
    return plans[max(range(len(plans)), key=scores.__getitem__)]


Poet._plan = ranked


asyncio.run(write_dev_poems(load_poet(model_dir), out, FORMS, SEED))
