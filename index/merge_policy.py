"""When an update merges segments (a rewrite of their live documents; no re-embedding), as Lucene's log merge
policy does. Deleted rows cost disk and a little keyword IDF accuracy; many segments cost a lookup each per
question token; a merge holds its segments' sentences and keyword tokens in memory, so it is bounded."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class MergePolicy:
    deleted_share: float = 0.25  # a segment whose deleted rows pass this share of its rows is rewritten
    factor: int = 8  # this many segments of one size tier are merged into one of the next tier
    tier_base_rows: int = 1000  # tier t holds segments of tier_base_rows * factor**t rows and up
    max_merged_rows: int = 100_000  # no merge writes a larger segment (~1 GB of sentence vectors and tokens in memory)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> MergePolicy:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


DEFAULT_MERGE_POLICY = MergePolicy()


def merge_candidates(rows: list[int], live: list[int], policy: MergePolicy = DEFAULT_MERGE_POLICY) -> list[int]:
    """Which segments the next merge rewrites (none: no merge is due), from each segment's rows on disk and
    live rows: the most worn ones (deleted share over ``policy.deleted_share``), else ``policy.factor``
    segments of the lowest full size tier; never more than ``policy.max_merged_rows`` live rows but for one
    worn segment alone."""
    worn = [s for s in range(len(rows)) if rows[s] and rows[s] - live[s] > policy.deleted_share * rows[s]]
    if worn:
        group, total = [], 0
        for s in sorted(worn, key=lambda s: live[s]):
            if group and total + live[s] > policy.max_merged_rows:
                break
            group.append(s)
            total += live[s]
        return group
    tiers: dict[int, list[int]] = {}
    for s, count in enumerate(live):
        tier = int(math.log(count / policy.tier_base_rows, policy.factor)) if count > policy.tier_base_rows else 0
        tiers.setdefault(tier, []).append(s)
    for tier in sorted(tiers):
        group = sorted(tiers[tier], key=lambda s: live[s])[: policy.factor]
        if len(group) == policy.factor and sum(live[s] for s in group) <= policy.max_merged_rows:
            return sorted(group)
    return []
