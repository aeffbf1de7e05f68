"""Demo data for this part of the product."""


def seed(ctx):
    return {}
