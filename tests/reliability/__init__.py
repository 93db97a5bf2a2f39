"""Reliability and security battery (issue 7): crashes, outages, races, leaks."""
