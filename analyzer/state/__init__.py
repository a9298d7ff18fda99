"""State files (state/*.yaml, kept in git): the pydantic model shared with infra and policy, and IO."""
