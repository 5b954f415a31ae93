"""The commissioner role: bring a device onto our bench fabric, point it at us, follow its update."""
