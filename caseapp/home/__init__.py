"""The landing page of each role and the page chrome (navigation, language switch)."""
