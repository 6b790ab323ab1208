"""
General-purpose support code: Failure, logging (legacy API), command-line
options, components, file paths and thread pools.
"""
