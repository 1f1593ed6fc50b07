"""What the user does with files: open and save results, sessions, images and pages, and
Help ▸ Examples."""
