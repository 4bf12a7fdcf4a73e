"""Hard constraints while sampling: exact shape, acrostic heads, one 平水韵 rhyme group on the
rhyme slots, 平仄 per slot from the chosen pattern, and bans.

Every rule is a boolean mask over the vocabulary, precomputed once per tokenizer, so choosing
what may come next is a handful of tensor ANDs. The allowed set is never empty: when rules
conflict (an acrostic head that is 平 on a 仄 slot, a rhyme group that is used up), they are
dropped in this order, and the poem records which were relaxed:

    1. bans (user-banned characters, rhyme characters already used)
    2. guards against 孤平 and 三平尾, and against an unrhymed line ending on a character most
       readers hear as 平 (strict mode)
    3. 平仄 of the slot
    4. the rhyme group (any 平 rhyme character still)

The shape and the acrostic heads are never relaxed. Slots that leave no choice (line-end marks,
acrostic heads, a first line the user gave, <eos>) are `forced`: the sampler writes them without asking the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from transformers import LogitsProcessor

from engine.forms import Form
from engine.prompts import EOS, LINE_ENDS
from engine.prosody import PING, ZE, TonePattern, char_tone, heard_groups, heard_tone, level_groups
from engine.text import is_han

MIN_GROUP_SIZE = 40  # narrower rhyme groups (险韵) are only used when asked for by name


class VocabularyMasks:
    """Per-token facts for one tokenizer: Han or not, possible tones, 平 rhyme groups."""

    def __init__(self, tokenizer):
        vocab = tokenizer.get_vocab()
        size = len(tokenizer)
        self.size = size
        self.ids = {token: index for token, index in vocab.items()}
        self.han = torch.zeros(size, dtype=torch.bool)
        self.level = torch.zeros(size, dtype=torch.bool)
        self.oblique = torch.zeros(size, dtype=torch.bool)
        # What ends a line that does not rhyme: characters readers hear as 仄 (engine.prosody.heard_tone).
        # The book lets 乡 be 仄 (as 向), but a line ending on it sounds like a broken rhyme.
        self.heard_oblique = torch.zeros(size, dtype=torch.bool)
        members: dict[str, list[int]] = {}
        # Rhymes are chosen by how readers hear them (engine.prosody.heard_groups: 行 rhymes in 庚),
        # and only when what they hear leaves no common group, by everything the book allows.
        self.groups_of: dict[int, frozenset[str]] = {}
        self.heard_groups_of: dict[int, frozenset[str]] = {}
        for token, index in vocab.items():
            if len(token) != 1 or not is_han(token):
                continue
            self.han[index] = True
            tone = char_tone(token)
            self.level[index] = tone.can_be(PING)
            self.oblique[index] = tone.can_be(ZE)
            self.heard_oblique[index] = heard_tone(token) == ZE
            groups = frozenset(g.label for g in level_groups(token))
            if groups:
                self.groups_of[index] = groups
                self.heard_groups_of[index] = frozenset(g.label for g in heard_groups(token))
            for label in self.heard_groups_of.get(index, ()):
                members.setdefault(label, []).append(index)
        self.group_members = {label: self._mask(ids) for label, ids in members.items()}
        self.wide_groups = frozenset(label for label, ids in members.items() if len(ids) >= MIN_GROUP_SIZE)
        self.line_ends = tuple(self.ids[mark] for mark in LINE_ENDS)
        self.eos = self.ids[EOS]
        self.plain_slots: dict[tuple, tuple[torch.Tensor, tuple[str, ...]]] = {}  # see PoemConstraint._plain_slot

    def _mask(self, ids) -> torch.Tensor:
        mask = torch.zeros(self.size, dtype=torch.bool)
        mask[list(ids)] = True
        return mask

    def rhyme_mask(self, groups) -> torch.Tensor:
        mask = torch.zeros(self.size, dtype=torch.bool)
        for label in groups & self.group_members.keys():  # a group no character of ours is heard in adds none
            mask |= self.group_members[label]
        return mask

    def common_groups(self, rhyme_tokens: list[int]) -> frozenset[str] | None:
        """The groups all these rhyme characters (in line order) share, as heard or else as the book
        allows (a player may have rhymed 行 as háng); None before the first one. When they share none,
        those the ones after the first share: a first line's rhyme is optional in 近体, and a given
        first line ending on a 平 of another group did not rhyme. Taken as rhyming, it had left every
        group open, and the bot's 联句 lines then failed the judge, which asks the couplets to rhyme."""
        if not rhyme_tokens:
            return None
        for tokens in (rhyme_tokens, rhyme_tokens[1:]):
            for groups_of in (self.heard_groups_of, self.groups_of):
                shared = frozenset.intersection(*(groups_of.get(token, frozenset()) for token in tokens))
                if shared:
                    return shared
            if len(tokens) == 1:
                break
        return frozenset()

    def rhyme_mask_after(self, rhyme_tokens: list[int]) -> torch.Tensor:
        """Characters that rhyme with all of these; any wide 平 group's before the first rhyme."""
        groups = self.common_groups(rhyme_tokens)
        return self.rhyme_mask(groups) if groups else self.any_wide_rhyme

    @cached_property
    def any_wide_rhyme(self) -> torch.Tensor:
        return self.rhyme_mask(self.wide_groups)

    def tone(self, tone: str) -> torch.Tensor:
        return self.level if tone == PING else self.oblique


@dataclass
class PoemPlan:
    """What one sampled poem must be."""

    form: Form
    pattern: TonePattern
    tone_mode: str = "strict"
    acrostic: str | None = None
    # the poem's first characters, written as given: a first line of the user's, or the lines kept when
    # a poem is written again from a failing line on (engine.poet)
    opening: str | None = None
    rhyme_group: str | None = None  # fixed in advance; else the first rhyme character chooses
    banned: frozenset[str] = frozenset()

    @property
    def length(self) -> int:
        """Tokens in the poem: characters, a mark after every line, and <eos>."""
        return self.form.line_count * (self.form.chars_per_line + 1) + 1

    @property
    def rhyme_lines(self) -> tuple[int, ...]:
        first = (0,) if self.pattern.rhymed_first else ()
        return first + self.form.rhyme_lines


def guarded_tone(plan: PoemPlan, line: int, position: int) -> tuple[str | None, str | None]:
    """(tone the pattern requires at this slot, tone the 孤平/三平尾 guards require), or None."""
    chars = plan.form.chars_per_line
    pattern_tone = None if position in plan.form.free_positions else plan.pattern.lines[line][position]
    line_type = plan.pattern.line_types[line]
    guard = None
    if line_type == "B" and position == chars - 5:  # keep a 平 beside the lone one: no 孤平
        guard = PING
    if line_type == "D" and position == chars - 3:  # 仄仄仄平平 must not end 平平平
        guard = ZE
    return pattern_tone, guard


def narrow(allowed: torch.Tensor, rules: list[tuple[str, torch.Tensor]]) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Apply the rules in order, skipping any that would leave nothing allowed; returns the mask
    and the names of the rules skipped."""
    skipped = []
    for name, rule in rules:
        narrowed = allowed & rule
        if narrowed.any():
            allowed = narrowed
        else:
            skipped.append(name)
    return allowed, tuple(skipped)


class PoemConstraint:
    """The allowed next tokens of one poem, from the tokens generated so far."""

    def __init__(self, masks: VocabularyMasks, plan: PoemPlan):
        self.masks = masks
        self.plan = plan
        self.length = plan.length
        self.relaxed: list[str] = []  # rules dropped, and where (line.position)
        self.banned = masks._mask([masks.ids[c] for c in plan.banned if c in masks.ids])
        self.acrostic_ids = [masks.ids.get(c, masks.ids["<unk>"]) for c in (plan.acrostic or "")]
        self.opening_ids = [masks.ids.get(c, masks.ids["<unk>"]) for c in (plan.opening or "")]
        self.fixed_group = masks.group_members[plan.rhyme_group] if plan.rhyme_group in masks.group_members else None

    def forced(self, generated: list[int]) -> int | None:
        """The one token this slot takes, if the rules leave no choice: marks, heads, <eos>."""
        plan, masks = self.plan, self.masks
        chars = plan.form.chars_per_line
        line, position = divmod(len(generated), chars + 1)
        if line >= plan.form.line_count:
            return masks.eos
        if position == chars:
            return masks.line_ends[line % 2]
        if line * chars + position < len(self.opening_ids):  # a rhyme in it chooses the group
            return self.opening_ids[line * chars + position]
        if self.acrostic_ids and position == 0:
            return self.acrostic_ids[line]
        return None

    def allowed(self, generated: list[int]) -> torch.Tensor:
        """The characters this slot may take; asked only where `forced` is None."""
        plan, masks = self.plan, self.masks
        chars = plan.form.chars_per_line
        line, position = divmod(len(generated), chars + 1)
        pattern_tone, guard = guarded_tone(plan, line, position)
        tone = pattern_tone if plan.tone_mode != "off" else None
        guard = guard if plan.tone_mode == "strict" else None
        if position == chars - 1 and line in plan.rhyme_lines:
            rhyme_tokens = self._rhyme_tokens(generated)
            rhyme = self.fixed_group if self.fixed_group is not None else masks.rhyme_mask_after(rhyme_tokens)
            allowed, skipped = narrow(
                masks.han,
                [("rhyme", rhyme), *self._tone_rules(tone, guard), ("ban", ~(self.banned | masks._mask(rhyme_tokens)))],
            )
        else:
            allowed, skipped = self._plain_slot(tone, guard, plan.tone_mode == "strict" and position == chars - 1)
        # once per slot: the sampler also asks about the next slot ahead of time (a plan word's
        # second character), and a slot's rules do not depend on what the current one holds
        notes = (f"{name}@{line + 1}.{position + 1}" for name in skipped)
        self.relaxed.extend(note for note in notes if note not in self.relaxed)
        return allowed

    def _tone_rules(self, tone: str | None, guard: str | None) -> list[tuple[str, torch.Tensor]]:
        return [(name, self.masks.tone(value)) for name, value in (("tone", tone), ("guard", guard)) if value]

    def _plain_slot(self, tone: str | None, guard: str | None, plain_end: bool) -> tuple[torch.Tensor, tuple[str, ...]]:
        """A slot that is not a rhyme depends only on its tones, whether it ends an unrhymed line,
        and the bans: worked out once per model and reused by every poem (a 七律 asks about 50
        times; the mask arithmetic cost more than choosing the character)."""
        key = (tone, guard, plain_end, self.plan.banned)
        cache = self.masks.plain_slots
        if key not in cache:
            rules = self._tone_rules(tone, guard) + ([("plain_end", self.masks.heard_oblique)] if plain_end else [])
            cache[key] = narrow(self.masks.han, [*rules, ("ban", ~self.banned)])
        return cache[key]

    def _rhyme_tokens(self, generated: list[int]) -> list[int]:
        chars = self.plan.form.chars_per_line
        done = len(generated) // (chars + 1)
        return [generated[ln * (chars + 1) + chars - 1] for ln in self.plan.rhyme_lines if ln < done]


class LineConstraint:
    """One line and then <eos>: a tone per position (None: free), characters forced at
    positions, characters banned at positions or anywhere, and a rhyme mask for the last one."""

    def __init__(
        self,
        masks: VocabularyMasks,
        tones: list[str | None],
        forced: dict[int, str] | None = None,
        banned_at: dict[int, str] | None = None,
        banned: frozenset[str] = frozenset(),
        rhyme: torch.Tensor | None = None,
    ):
        self.masks = masks
        self.tones = tones
        self.length = len(tones) + 1
        self.forced_at = {pos: masks.ids[c] for pos, c in (forced or {}).items() if c in masks.ids}
        self.banned_at = {pos: masks._mask([masks.ids[c]]) for pos, c in (banned_at or {}).items() if c in masks.ids}
        self.banned = masks._mask([masks.ids[c] for c in banned if c in masks.ids])
        self.rhyme = rhyme
        self.relaxed: list[str] = []

    def forced(self, generated: list[int]) -> int | None:
        position = len(generated)
        return self.masks.eos if position >= len(self.tones) else self.forced_at.get(position)

    def allowed(self, generated: list[int]) -> torch.Tensor:
        """Asked only where `forced` is None."""
        position = len(generated)
        rules = []
        if self.rhyme is not None and position == len(self.tones) - 1:
            rules.append(("rhyme", self.rhyme))
        if tone := self.tones[position]:
            rules.append(("tone", self.masks.tone(tone)))
        if self.rhyme is None and position == len(self.tones) - 1 and self.tones[position] == ZE:
            rules.append(("plain_end", self.masks.heard_oblique))
        bans = self.banned | self.banned_at.get(position, self.banned)
        rules.append(("ban", ~bans))
        allowed, skipped = narrow(self.masks.han, rules)
        self.relaxed.extend(f"{name}@{position + 1}" for name in skipped)
        return allowed


class ConstraintsProcessor(LogitsProcessor):
    """The same constraints for transformers' `generate`, one per row of the batch.

    The engine samples in its own loop (engine.sampling), which writes forced tokens without a
    model step; this is for code that drives `generate` itself, and bench/engine.py measures
    what the constraints cost there. Stop with the constraint's length (`max_new_tokens`).
    """

    def __init__(self, constraints: list, prompt_length: int):
        self.constraints = constraints
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, constraint in enumerate(self.constraints):
            generated = input_ids[row, self.prompt_length :].tolist()
            if len(generated) >= constraint.length:
                continue
            token = constraint.forced(generated)
            if token is None:
                scores[row] = scores[row].masked_fill(~constraint.allowed(generated).to(scores.device), -torch.inf)
            else:
                scores[row, :token] = -torch.inf
                scores[row, token + 1 :] = -torch.inf
        return scores
