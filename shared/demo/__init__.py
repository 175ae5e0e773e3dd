"""The demo shop: Fernwood Outfitters, a fictional outdoor-gear shop with FAQs and policies."""
