"""Exploring a network: the channel atlas, contact sheets, and measures of what a channel responds to."""
