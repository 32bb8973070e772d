"""Fake domains as plug-ins, registered explicitly by name.

Each domain turns a real photo's pixels into a fake of the same size; the runner
(`python -m training.data.forge`) handles format alignment, perturbation, manifests,
resumption and parallelism.
"""
from __future__ import annotations

from training.data.forge.base import DOMAIN_CODES, Domain, Generated

from training.domains import FAKE_DOMAINS as GENERATOR_DOMAINS
from training.domains import INPAINT

FILL_DOMAINS = tuple(d for d in GENERATOR_DOMAINS if d != INPAINT)  # what inpaint may paste into a real
ALL_DOMAINS = (*GENERATOR_DOMAINS, "perturb")


def create_domain(name: str, **options) -> Domain:
    """Build one domain; options reach only the domain that takes them (e.g. vae, weights,
    super_resolvers / regenerators: lists of network names, None for all)."""
    if name == "upsample":
        from training.data.forge import registry
        from training.data.forge.upsample import Upsample

        return Upsample(registry.super_resolvers(options.get("super_resolvers")))
    if name == "regenerate":
        from training.data.forge import registry
        from training.data.forge.regenerate import Regenerate

        return Regenerate(registry.regenerators(options.get("regenerators")))
    if name == "reconstruct":
        from training.data.forge.reconstruct import Reconstruct

        return Reconstruct(weights=options.get("weights"), vae=options.get("vae"))
    if name == "inpaint":
        from training.data.forge.inpaint import Inpaint

        return Inpaint(fill_domains=tuple(options.get("fill_domains") or FILL_DOMAINS))
    raise ValueError(f"unknown domain {name!r}; known: {', '.join(ALL_DOMAINS)}")


__all__ = ["ALL_DOMAINS", "FILL_DOMAINS", "DOMAIN_CODES", "Domain", "GENERATOR_DOMAINS", "Generated", "create_domain"]
