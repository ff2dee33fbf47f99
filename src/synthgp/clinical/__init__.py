"""Clinical knowledge as small vectorised functions: NICE rules, risk scores and physiology.
Imports only core."""
