"""Fake domains as plug-ins, registered explicitly by name.

Each domain turns a real photo's pixels into a fake of the same size; the runner
(`python -m training.data.forge`) handles format alignment, perturbation, manifests,
resumption and parallelism.
"""
from __future__ import annotations

from training.data.forge.base import DOMAIN_CODES, Domain, Generated

GENERATOR_DOMAINS = ("upsample", "reconstruct", "inpaint")
ALL_DOMAINS = (*GENERATOR_DOMAINS, "perturb")


def create_domain(name: str, **options) -> Domain:
    """Build one domain; options reach only the domain that takes them (e.g. vae, weights)."""
    if name == "upsample":
        from training.data.forge.upsample import Upsample

        return Upsample()
    if name == "reconstruct":
        from training.data.forge.reconstruct import Reconstruct

        return Reconstruct(weights=options.get("weights"), vae=options.get("vae"))
    if name == "inpaint":
        from training.data.forge.inpaint import Inpaint

        return Inpaint()
    raise ValueError(f"unknown domain {name!r}; known: {', '.join(ALL_DOMAINS)}")


__all__ = ["ALL_DOMAINS", "DOMAIN_CODES", "Domain", "GENERATOR_DOMAINS", "Generated", "create_domain"]
