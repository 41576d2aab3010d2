package com.example;

public class ClassWithNamedFields {
  public int myField;
