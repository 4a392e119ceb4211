enum MilterAppPlaceholder {}
