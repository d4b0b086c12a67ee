"""The click commands of `linpu`, one module per command group; `root` assembles them."""
