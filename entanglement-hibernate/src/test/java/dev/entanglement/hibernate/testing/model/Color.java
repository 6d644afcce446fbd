package dev.entanglement.hibernate.testing.model;

public enum Color { RED, GREEN, BLUE }
